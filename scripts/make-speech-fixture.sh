#!/usr/bin/env bash
# Regenerates the checked-in speech fixtures (VOICE.md §6): espeak-ng speech, trimmed, 16 kHz mono,
# 0.5 s of silence before and 1 s after, encoded like the firmware's uplink (Opus 16 kHz, 60 ms,
# application=audio, complexity 0, VBR and DTX on) with src/voice/opus.ts and muxed to Ogg Opus
# with src/voice/ogg.ts. Tests only read the results: CI machines lack espeak-ng and sox.
#   apt-get install -y espeak-ng sox && scripts/make-speech-fixture.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y espeak-ng sox" >&2; exit 1; }
done
node=node_modules/.bin/node
[ -x "$node" ] || { echo "run npm install first (needs the pinned Node 24 for .ts scripts)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# espeak-ng names Mandarin "cmn" (older builds answer to "zh").
zh_voice=cmn
espeak-ng --voices=cmn | grep -q cmn || zh_voice=zh

make() { # name voice text
  local name=$1 voice=$2 text=$3
  espeak-ng -v "$voice" -w "$tmp/$name-raw.wav" "$text"
  # Trim espeak's own leading and trailing silence (below -60 dBFS), then 16 kHz mono 16-bit.
  sox "$tmp/$name-raw.wav" -r 16000 -c 1 -b 16 "$tmp/$name.wav" \
    silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse rate -v 16000
  "$node" scripts/lib/make-speech-fixture.ts "$tmp/$name.wav" "test/fixtures/speech-$name" "$voice" "$text"
}

make zh "$zh_voice" "今天天气怎么样"
make en en-us "what is the weather like today"
ls -l test/fixtures/
