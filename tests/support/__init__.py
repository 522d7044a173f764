"""Test support: tiny local models and local stand-ins for services that cannot exist here."""
