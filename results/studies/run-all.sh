#!/bin/bash
# Issue 20's studies one after the other, each resuming where it stopped (finished runs are not
# rerun): study 1 (cifar10-resnet, commit 3ab9ad5 in /work/study), then study 4 (fashion-xgrad)
# and study 2 (gutenberg17-lstm2) from /work/study2 (commit 9ced18e), then studies 3 (the horizon)
# and 5 (the rivals) on study 1's task and commit. Logs: ~/wp-studies/<study>.log.
set -uo pipefail
cd ~/wp-studies
./run-cifar10-resnet.sh --resume >> cifar10-resnet.log 2>&1 || exit 1
./run-fashion-xgrad.sh >> fashion-xgrad.log 2>&1 || exit 1
./run-gutenberg17-lstm2.sh >> gutenberg17-lstm2.log 2>&1 || exit 1
./run-cifar10-resnet-horizon.sh >> cifar10-resnet-horizon.log 2>&1 || exit 1
./run-cifar10-resnet-rivals.sh >> cifar10-resnet-rivals.log 2>&1 || exit 1
