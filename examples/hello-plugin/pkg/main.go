// Command plugin is the Go backend of the Hello Plugin Omniview plugin.
package main

import "github.com/omniviewdev/plugin-sdk/pkg/sdk"

func main() {
	plugin := sdk.NewPlugin(sdk.PluginOpts{ID: "hello-plugin"})
	// Register the backend capabilities here (resource, exec, ...); settings and the
	// lifecycle services come with the SDK.
	plugin.Serve()
}
