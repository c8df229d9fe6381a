"""Tags: the managed list of audiences events are for (women, children, 长者...), each
with a Chinese and an English name; events, broadcasts and the dashboard name them."""
