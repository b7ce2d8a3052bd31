"""The reference's transformer.py imports vgg16_bn for an encoder no benchmarked config builds."""
vgg16_bn = None
