// Types of the host's @omniviewdev/runtime, which is not published to the npm registry: the host
// provides it at run time (a shim in development, a SystemJS external in production).
declare module '@omniviewdev/runtime' {
  import type { ComponentType } from 'react';

  /** A route as react-router's RouteObject has it (the parts a plugin uses). */
  export interface PluginRoute {
    path?: string;
    index?: boolean;
    Component?: ComponentType;
    children?: PluginRoute[];
  }

  export class PluginWindow {
    setRootPage(component: ComponentType): this;
    withRoutes(routes: PluginRoute[]): this;
  }

  /** plugin.yaml as the IDE hands it to the UI (the SDK's PluginMeta). */
  export interface PluginMeta {
    id: string;
    version: string;
    name: string;
    description: string;
    capabilities: string[] | null;
    [field: string]: unknown;
  }

  export interface PluginContextValue {
    pluginId: string;
    meta: PluginMeta;
    settings: Record<string, unknown>;
  }

  export function usePluginContext(): PluginContextValue;
}
