/** Console entry. */
import { render } from 'preact';
import { Api } from './api';
import { App } from './App';
import { unlockAudioOnGesture } from './notify';
import './console.css';

unlockAudioOnGesture();
render(<App api={new Api()} />, document.getElementById('app')!);
