# Plan 2 of the backup guide: daily copies to two independent clouds (S3 and
# B2) and a weekly one to a NAS, so that losing one provider or one account
# loses no history.
#
# Credentials live in rclone's config (or RCLONE_CONFIG_* variables), never
# here.

instance "main" {
  data_dir  = "/opt/open-webui"
  container = "open-webui"
}

target "s3" {
  remote = "s3:acme-openwebui-backups/prod"
}

target "b2" {
  remote = "b2:OpenWebUI-backups"
}

target "nas" {
  remote = "nas-sftp:/volume1/backups/open-webui" # an rclone SFTP remote
}

# One snapshot a day, copied to both clouds. Each target keeps its own
# snapshots and prunes them by the same rules.
backup "daily" {
  instance = instance.main
  to       = [target.s3, target.b2]
  every    = "24h"

  keep {
    last    = 3 # whatever else happens, the three newest
    daily   = 14
    weekly  = 8
    monthly = 12
    yearly  = -1 # one per year, forever
  }
}

# A weekly snapshot taken with the container paused (seconds, not minutes,
# of downtime), kept for a year.
backup "weekly" {
  instance    = instance.main
  to          = [target.nas]
  every       = "1w"
  consistency = "pause"

  keep {
    within = "1y"
  }
}

notify "ops" {
  url = "https://hooks.example.com/owui" # plain https gets a JSON POST
  on  = ["failure", "success"]
}
