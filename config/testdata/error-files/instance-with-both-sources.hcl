instance "main" {
  data_dir      = "/opt/open-webui"
  docker_volume = "open-webui" # ERROR: Conflicting data source
}
