#!/bin/sh
# Writes a synthetic Amazon-format (2018 Movies & TV) review file, gzip-compressed, to test
# that loading a file of realistic size streams: memory should grow with the ratings kept,
# not with the JSON text.
#
#   scripts/gen-amazon-synthetic.sh [LINES] [OUT]
#   scripts/gen-amazon-synthetic.sh 10000000 /tmp/amazon-synth/Movies_and_TV.json.gz
#
# Each line has every field of the real file (reviewText of ~200 characters, summary,
# style, vote, image on some lines), 1.5M reviewers and 200k items drawn with a skewed
# (popularity-like) distribution, ratings 1-5, dates 1998-2018. Deterministic (fixed
# seed). The output is not data to learn from and must not be committed.
set -eu
lines=${1:-10000000}
out=${2:-/tmp/amazon-synth/Movies_and_TV.json.gz}
mkdir -p "$(dirname "$out")"
awk -v n="$lines" 'BEGIN {
    srand(42);
    text = "This is a synthetic review text that stands in for the real one: it is long enough to make the line as heavy as a real review, which is what the loader must skip cheaply.";
    for (i = 1; i <= n; i++) {
        # Squaring a uniform draw skews ids towards 0: popular items and active users.
        u = int(1500000 * rand() * rand());
        a = int(200000 * rand() * rand());
        r = 1 + int(5 * rand());
        t = 896659200 + int(rand() * 627264000);   # 1998-06-01 .. 2018-03-01
        t = t - t % 86400;
        v = (rand() < 0.7) ? "true" : "false";
        img = (i % 100 == 0) ? ", \"image\": [\"https://example.invalid/img.jpg\"]" : "";
        printf "{\"overall\": %d.0, \"vote\": \"%d\", \"verified\": %s, \"reviewTime\": \"01 1, 2000\", \"reviewerID\": \"A%013d\", \"asin\": \"B%09d\", \"style\": {\"Format:\": \" DVD\"}, \"reviewerName\": \"Reviewer %d\", \"reviewText\": \"%s\", \"summary\": \"Five stars\", \"unixReviewTime\": %d%s}\n", r, i % 7, v, u, a, u, text, t, img;
    }
}' | gzip -1 > "$out"
ls -l "$out"
