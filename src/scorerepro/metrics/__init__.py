"""Sample-quality metrics, one module each, imported where used (not here, so that importing one metric does not
load the others and a stage's code dependencies stay what its imports say):

- fid: Frechet distance, feature statistics; features: batched feature extraction; inception: pytorch-fid's FID
  Inception (weights, offline conversion); inception_score: IS from logits; knn: exact nearest neighbours;
  mnist_classifier: the small MNIST classifier behind `fid_mnist_classifier` / `is_mnist_classifier_*`.

Metric names in outputs say their network: `fid_inception`, `is_inception_*` (or `is_inception_unavailable` with the
reason), `fid_mnist_classifier`, `is_mnist_classifier_*`.
"""
