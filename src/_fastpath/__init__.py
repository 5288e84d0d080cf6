"""Cython fast paths for pymosh. Never import directly: go through pymosh._accel."""
