"""Data: clean the raw names (clean), build the character vocabulary (vocab), split them and
window them into (context -> next character) examples (split). One module per rule."""

SPLITS = ("train", "dev", "test")  # the study's splits, in this order everywhere
