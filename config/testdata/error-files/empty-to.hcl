instance "main" {
  data_dir = "/opt/open-webui"
}

backup "daily" {
  instance = instance.main
  to       = [] # ERROR: Empty target list
  every    = "24h"
}
