"""Tests of the local cloud deployer (infra/localcloud/deploy)."""
