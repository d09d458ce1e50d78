instance "main" {
  compose_project = "my project" # ERROR: Invalid Compose project name
}
