"""The Panel-free core: plain, typed Python with an explicit lifecycle and its own unit tests."""
