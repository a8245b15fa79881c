// Package deploy holds no code: its tests keep the deployment files honest.
// They check the repository's Dockerfile against the README's build
// commands, and decode every Kubernetes manifest in kubernetes/ strictly
// into the k8s.io/api types, checking the names and ports that tie the
// coordinator, the workers, the Secret and the ConfigMap together.
package deploy
