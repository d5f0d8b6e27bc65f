// Command plugin is the Go backend of the Hello Plugin Omniview plugin.
package main

import "github.com/omniviewdev/plugin-sdk/pkg/sdk"

func main() {
	plugin := sdk.NewPlugin(sdk.PluginOpts{ID: "hello-plugin"})
	// The SDK registers the settings capability itself, and a lifecycle service that tells the IDE
	// which capabilities are registered (see README.md for the others).
	plugin.Serve()
}
