#!/bin/bash
# Coverage-guided fuzzing of the gateway's decoders with Jazzer, one target per run (Jazzer fuzzes
# one @FuzzTest per JVM). Each target runs for its @FuzzTest maxExecutions (10^6) or maxDuration.
# The corpus it grows lands in MODULE/.cifuzz-corpus/ (not committed); a finding is written to
# MODULE/src/test/resources/.../<Class>Inputs/<method>/crash-*, where `mvn verify` replays it
# until it is fixed (then keep it, renamed, as a regression input). Do not stop a run with a
# signal: Jazzer then writes the input it was on as a crash-* file although nothing failed.
#
#   bench/fuzz.sh [TARGET...]     TARGET: module:Class#method, default all below
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(nbd-server:NbdWireFuzzTest#handshake nbd-server:NbdWireFuzzTest#transmission
        backup:BackupDecodersFuzzTest#manifest backup:BackupDecodersFuzzTest#object
        tools:RestFuzzTest#raw tools:RestFuzzTest#request)
fi
for target in "${targets[@]}"; do
    module="${target%%:*}"
    test="${target#*:}"
    echo "== fuzzing $test in $module"
    # the leak detector stays paranoid: a leaked buffer is a finding too; the decoders' line per
    # refused input (10^6 of them) would cost more than the fuzzing, so tests log errors only
    JAZZER_FUZZ=1 CGW_TEST_LOG_LEVEL=ERROR mvn -B -o verify -pl "$module" -am -Dspotless.check.skip=true \
        -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
        | grep -E '^#[0-9]+.*(pulse|NEW|DONE)|Done [0-9]+ runs|Tests run:|FAIL|ERROR' || true
done
