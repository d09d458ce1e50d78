instance "main" {
  docker_volume = "open webui" # ERROR: Invalid Docker volume name
}
