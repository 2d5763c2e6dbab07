"""The configs that ship with petri, as package data: `petri run --list` shows them."""
