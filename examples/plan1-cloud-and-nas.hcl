# Plan 1 of the backup guide: a daily online backup to a cloud bucket and a
# weekly cold backup (container stopped) to a NAS.
#
# Prerequisites: an rclone remote named "b2" (rclone config), the NAS mounted
# at /mnt/nas, and Open WebUI's data bind-mounted from /opt/open-webui.

time_zone = "Europe/Berlin" # buckets and schedules use this zone

instance "main" {
  data_dir  = "/opt/open-webui"
  container = "open-webui" # needed for consistency = "stop"
}

target "b2" {
  remote = "b2:OpenWebUI-backups"
}

target "nas" {
  remote = "/mnt/nas/open-webui"
}

# Every night at 03:00, while Open WebUI keeps running: SQLite files are
# copied through the online backup API, the rest is checked for changes
# during the copy. The SQLite copies are stored zstd-compressed (.zst files
# the zstd command line opens): several times fewer bytes in the bucket.
backup "daily" {
  instance    = instance.main
  to          = [target.b2]
  schedule    = "0 3 * * *"
  exclude     = ["cache/**", "audit.log"]
  consistency = "online"
  compression = "zstd"

  keep {
    daily   = 7
    weekly  = 4
    monthly = 6
  }
}

# Sundays at 04:00, with the container stopped for a fully quiet copy; it is
# started again afterwards whatever happens.
backup "weekly-cold" {
  instance    = instance.main
  to          = [target.nas]
  schedule    = "0 4 * * 0"
  consistency = "stop"

  keep {
    last = 3
  }
}

notify "ops" {
  url = "ntfy://ntfy.sh/my-owui"
  on  = ["failure"]
}
