import { PluginWindow } from '@omniviewdev/runtime';
import HomePage from './pages/HomePage';

// The IDE renders the named `plugin` export (a default export is not enough).
export const plugin = new PluginWindow().setRootPage(HomePage);
