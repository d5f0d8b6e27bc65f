module github.com/example/hello-plugin

go 1.25.0

require github.com/omniviewdev/plugin-sdk v0.2.1
