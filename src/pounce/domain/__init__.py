"""Pure rules and types of the product: no I/O, standard library only."""
