"""Model lifecycle: labelled data, training, evaluation, versioned artifacts for the scoring service."""
