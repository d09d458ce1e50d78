instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
  include = [
    "uploads/**",
    "uploads/[a-", # ERROR: Invalid glob pattern
    "/etc/passwd", # ERROR: Invalid glob pattern
  ]
  exclude = [
    "../secrets/**", # ERROR: Invalid glob pattern
    "cache/../../x", # ERROR: Invalid glob pattern
    "",              # ERROR: Invalid glob pattern
    "/${env("OWUI_TEST_SECRET")}", # ERROR: Invalid glob pattern
  ]
}
