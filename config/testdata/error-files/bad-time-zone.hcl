time_zone = "Europe/Atlantis" # ERROR: Invalid time zone

instance "main" {
  data_dir = "/opt/open-webui"
}
