"""Tests of the web part: pure payload/auth rules, and the app through `create_app({...}).test_client()`."""
