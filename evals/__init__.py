"""Evaluation on the human-labelled data in ../shared/data."""
