# Open WebUI started the documented way:
#   docker run -d -v open-webui:/app/backend/data --name open-webui ...
# The data lives in the Docker volume "open-webui"; owui finds its mount
# point through the Docker Engine API.

instance "main" {
  docker_volume = "open-webui"
  container     = "open-webui"
}

target "backups" {
  remote = "/srv/backups/open-webui"
}

# Every six hours, pausing the container for the copy: writes stall for a
# moment instead of the service going down.
backup "main" {
  instance    = instance.main
  to          = [target.backups]
  every       = "6h"
  consistency = "pause"

  keep {
    last   = 4 # the last day
    daily  = 7
    weekly = 4
    within = "2d" # plus everything from the two days before the newest
  }
}
