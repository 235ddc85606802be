"""Test helpers shared by several test modules and the fault campaign (not tests themselves)."""
