# Sourced by bench/run.sh and bench/callgrind.sh: the job id nginx answers with, and the nginx
# location that answers as the API does (a POST: the job, queued; a GET: its status, completed,
# with the audio on the second loopback address at the same port).
# shellcheck shell=sh
ID="e84c6bd4-8d5f-4c3a-9b1e-2f6a7d0c9e11:minimax/music-2.0"

api_location() { # PORT
  cat <<EOF
    location = /v2/generate/audio {
      default_type application/json;
      if (\$request_method = POST) {
        return 200 '{"id":"$ID","status":"queued"}';
      }
      return 200 '{"id":"$ID","trace_id":"81d7475c3aa5d11cd09cbfc626e1bca0","meta":{"usage":{"credits_used":126}},"status":"completed","extra_info":{"music_sample_rate":44100,"music_duration":2000,"music_size":262144,"bitrate":256000,"music_channel":1},"audio_file":{"url":"http://127.0.0.2:$1/audio/aOC5WDH9oqBkaF5qHORbD5QW.mp3?Expires=1795405209&Signature=a2a6bcda4da2005538a288a5a33a77cce603313b"}}';
    }
EOF
}
