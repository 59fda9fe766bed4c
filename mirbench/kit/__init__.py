"""What systems are built from: the training loop, window-trained networks, torch pieces, track-level pooling, the
model cache and the optimisers. Nothing in the harness needs it; systems import from it."""
