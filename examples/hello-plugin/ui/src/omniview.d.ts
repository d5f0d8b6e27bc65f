// Types of the host's @omniviewdev/runtime, which is not published to the npm registry: the host
// provides it at run time (a shim in development, a SystemJS external in production).
declare module '@omniviewdev/runtime' {
  import type { ComponentType } from 'react';

  export class PluginWindow {
    setRootPage(component: ComponentType): this;
  }
}
