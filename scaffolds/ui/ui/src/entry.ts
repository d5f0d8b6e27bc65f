import { PluginWindow } from '@omniviewdev/runtime';
import HomePage from './pages/HomePage';

// The IDE imports this file (always ui/src/entry.ts), renders the named `plugin` export (a default export is not
// enough) and mounts its routes under /_plugin/<plugin id>/. Register pages with withRoutes: the IDE registers no
// route for a plugin that only calls setRootPage. Navigate with relative paths ('details'), not '/details'.
export const plugin = new PluginWindow().withRoutes([{ index: true, Component: HomePage }]);
