"""The code generator's fine-tuning on build-finetune datasets (docs/training.md).

`hive_trainer.train` is the command every Kubeflow Trainer node runs under torchrun;
`hive_trainer.submit` is the `train-generator` step that renders, submits and waits for
the TrainJob (or runs the trainer locally); `hive_trainer.tiny` makes the tiny local
model the tests train.
"""
