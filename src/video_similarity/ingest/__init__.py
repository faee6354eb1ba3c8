"""Reading datasets in the official VSC-2022 layout into validated tables."""
