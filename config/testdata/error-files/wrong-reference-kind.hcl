instance "main" {
  data_dir = "/opt/open-webui"
}

backup "daily" {
  instance = instance.main
  to       = [instance.main] # ERROR: Invalid reference
  every    = "24h"
}
