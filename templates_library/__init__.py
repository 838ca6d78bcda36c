"""The sixteen workflow templates, one YAML file each (docs/templates.md describes the format).

A package only so that the files travel with every install: ``automation.templates`` reads them through
``importlib.resources``, which finds them in a checkout, an editable install and a wheel alike.
"""
