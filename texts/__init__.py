"""Every text a person reads, in Chinese and English: one gettext catalog per language.

The bottom layer of the house: ``models/`` renders push texts from it and ``handlers/``
chat replies, so it imports none of the project's packages.
"""
