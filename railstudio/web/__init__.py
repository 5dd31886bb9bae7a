"""What the pages of both apps share: role checks, htmx answers and the home dashboard.

planner and clusters import from here, never each other's views (tests/test_layering.py).
"""
