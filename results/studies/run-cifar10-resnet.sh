#!/bin/bash
# Study 1 of issue 20: CIFAR-10, ResNet-8 width 16, 10 epochs, AdamW vs AdamW s=1, tuned on validation.
# Runs at commit 3ab9ad5 (/work/study). The grid grew twice: 6e-3 and then 2e-2 were chosen at its edge;
# tuning/sweep-3-rates.json and sweep-4-rates.json are the earlier commands; evaluation runs begun at
# lr 6e-3 before 2e-2 was tried are kept apart in ~/wp-studies/cifar10-resnet-abandoned (not used).
cd /work/study
exec node dist/cli/main.js compare --task cifar10-resnet --epochs 10 --lr 6e-4,2e-3,6e-3,2e-2,6e-2 --tune --tune-seeds 1 --seeds 10 --jobs 2 --prediction-steps 0,1 --out ~/wp-studies/cifar10-resnet "$@"
