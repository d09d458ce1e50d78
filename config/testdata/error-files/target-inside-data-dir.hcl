instance "main" {
  data_dir = "/opt/open-webui"
}

instance "relative" {
  data_dir = "data" # resolved against the policy's directory
}

target "inside" {
  remote = "/opt/open-webui/backups/../snapshots"
}

target "same" {
  remote = "/opt/open-webui/"
}

target "sibling" {
  remote = "/opt/open-webui-backups" # a sibling is fine
}

target "relative" {
  remote = "./data/backups"
}

target "cloud" {
  remote = "opt:/opt/open-webui" # an rclone remote, not a local path
}

backup "daily" {
  instance = instance.main
  to = [
    target.inside, # ERROR: Target inside data directory
    target.same,   # ERROR: Target inside data directory
    target.sibling,
    target.cloud,
  ]
  every = "24h"
}

backup "relative" {
  instance = instance.relative
  to       = [target.relative] # ERROR: Target inside data directory
  every    = "24h"
}
