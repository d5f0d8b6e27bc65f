# Sourced by the scripts beside it. The Go module proxy of some machines does not serve the Omniview plugin
# SDK; where a file proxy with its releases lies beside the checkout (shared/goproxy), put it in front of the
# usual one. Elsewhere this does nothing: the public proxy serves the SDK.
if [ -d ../shared/goproxy ] && command -v go >/dev/null 2>&1; then
  case "$(go env GOPROXY)" in
    file://*) ;;
    *) GOPROXY="file://$(cd ../shared/goproxy && pwd),$(go env GOPROXY)"
       export GOPROXY GONOSUMDB=github.com/omniviewdev/plugin-sdk ;;
  esac
fi
