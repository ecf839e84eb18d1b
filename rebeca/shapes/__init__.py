"""The shapes world: a procedurally made catalog, raters with known tastes, and the small models trained on it (its
embedder, decoders, probe and captioner). It plugs into the paper's pipeline through the registries and interfaces of
the paper's modules (`Embedder`, `Decoder`, `Captioner`, `GroundTruth`), which import nothing from it."""
