"""The demo world: procedural rooms, their predictor, and training and evaluating a generator on them."""
