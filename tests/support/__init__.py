"""What tests share: gateway and database machinery, fakes' helpers, hostile inputs, one clock.

Test modules and conftest files import from here; no test module imports another test module
or a conftest. conftest.py files only declare fixtures and hooks.
"""
