"""The offline demo's world: synthetic EdgeWisePersona-shaped data (`synthetic`, its phrasing in
vocabulary.yaml) and the tiny base model pretrained on it (`base`).

It depends on the library; the library never imports it (only the demo's rules and the tests do).
"""
