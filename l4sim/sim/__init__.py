"""The simulator layer: the only place SimPy is used."""
