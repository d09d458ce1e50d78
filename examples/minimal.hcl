# The smallest useful policy: one instance, one local directory, a snapshot
# a day, the last seven kept. cache/ is excluded by default.

instance "main" {
  data_dir = "/opt/open-webui"
}

target "local" {
  remote = "/var/backups/open-webui"
}

backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"

  keep {
    last = 7
  }
}
